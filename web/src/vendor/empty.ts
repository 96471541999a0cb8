// Stands in for core-js 2 polyfills (see web/vite.config.ts): every browser the dashboard supports has ES2015+.
export {};
