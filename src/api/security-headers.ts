/**
 * Response headers for every answer (API, dashboard, codec), set by helmet:
 * - A strict Content-Security-Policy: scripts, styles, fonts and fetches from this origin only, no
 *   inline script or style, no plugins, no <base>, forms post here only, and `frame-ancestors
 *   'none'` (no other site may frame the dashboard, which holds an API key in browser storage).
 *   Images: this origin and data: URIs (the favicon). The built dashboard passes it (tested in
 *   Chromium, test/e2e/security-headers.test.ts); `upgrade-insecure-requests` is left out because
 *   the embedded default serves plain HTTP on loopback.
 * - X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, X-Frame-Options: DENY (for
 *   browsers without frame-ancestors), Cross-Origin-Opener-Policy: same-origin,
 *   Cross-Origin-Resource-Policy: same-site (the Temporal Web UI on another port of the same host
 *   calls /codec), Strict-Transport-Security (browsers honour it only over HTTPS), no X-Powered-By.
 */
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: Object.fromEntries(Object.entries(CONTENT_SECURITY_POLICY).map(([name, values]) => [name, [...values]])),
    },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginResourcePolicy: { policy: 'same-site' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    // The dashboard embeds nothing cross-origin; COEP would only break the Web UI's codec fetches.
    crossOriginEmbedderPolicy: false,
  });
}

/**
 * The page served at / when the dashboard has not been built (web/ served as it is): the TSX
 * cannot load, so say what to do. A static page with no script (the CSP allows none inline).
 */
export const DASHBOARD_NOT_BUILT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald</title></head>
<body><main><h1>Herald</h1>
<p>The dashboard is not built. Run <code>npm run build:web</code> and reload.</p>
<p>The HTTP API is described at <a href="/api/v2/openapi.json">/api/v2/openapi.json</a>.</p>
</main></body></html>
`;
