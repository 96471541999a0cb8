/** Stops the services shared with the integration project (once, whichever teardown runs first). */
export { default } from '../support/global-teardown';
