// An upstream OpenID provider (oidc-provider 9) that zitui's external-IdP tests sign in through.
//
// Usage: node upstream.mjs CONFIG, where CONFIG is a JSON text or the path of a JSON file
// (or the environment variable UPSTREAM_CONFIG). Keys:
//   port          port to listen on, on 127.0.0.1 (default 0: any free port)
//   issuer_host   host name in the issuer (default 127.0.0.1); issuer: the whole issuer URL
//   require_pkce  refuse authorization requests without S256 PKCE (default true)
//   clients       [{client_id, client_secret, redirect_uris, token_endpoint_auth_method?, ...}]
//                 (any other oidc-provider client metadata is passed through)
//   accounts      {sub: {email, email_verified, given_name, family_name, name, ...}}
// Prints one line `READY <issuer>` on stdout once it listens; everything else goes to stderr.
//
// Every authorization request shows the sign-in page (type a configured sub; any password)
// and then the consent page (Continue or Cancel), whatever the browser's earlier sessions, so
// a test always walks the same pages. Cancel answers the client with error=access_denied.
// POST /__test/accounts/<sub> with a JSON object replaces that account's claims (or adds it).
//
// Plain OAuth 2.0 (no openid scope) works at /auth and /token, but oidc-provider's userinfo
// refuses such a token (403 insufficient_scope): GET /oauth/user, a profile API in the manner
// of GitHub's /user, answers any valid access token with the account's claims and `id` (sub).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { interactionPolicy } from 'oidc-provider';

const say = (...args) => console.error(...args);
// oidc-provider prints notices with console.info: stdout carries the READY line only.
console.log = say;
console.info = say;

const CLAIMS = {
  openid: ['sub'],
  profile: [
    'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
};
const LOCAL_ADDRESSES = new Set(['127.0.0.1', '::ffff:127.0.0.1', '::1']);
// No form-action: Chromium applies it to the redirects after a submission, which end at the
// client's origin.
const CSP = "default-src 'none'; frame-ancestors 'none'";

function readConfig() {
  const raw = process.argv[2] ?? process.env.UPSTREAM_CONFIG;
  if (!raw) {
    say('usage: upstream.mjs CONFIG (a JSON text or file; or UPSTREAM_CONFIG)');
    process.exit(2);
  }
  return JSON.parse(raw.trimStart().startsWith('{') ? raw : readFileSync(raw, 'utf8'));
}

const config = readConfig();
const accounts = new Map(Object.entries(config.accounts ?? {}));

function clientMetadata(client) {
  return {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  };
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'upstream-1', alg: 'RS256', use: 'sig' };
}

// Sign in and consent on every authorization request, even with a live upstream session.
function everyTimePolicy() {
  const policy = interactionPolicy.base();
  for (const name of ['login', 'consent']) {
    policy.get(name).checks.add(new interactionPolicy.Check(
      `${name}_every_time`,
      `the test upstream asks for ${name} on every authorization request`,
      (ctx) => !ctx.oidc.result?.[name],
    ));
  }
  return policy;
}

function findAccount(ctx, sub) {
  if (!accounts.has(sub)) return undefined;
  return {
    accountId: sub,
    // Read at the time of use, so a change through the test hook shows on the next token.
    claims: () => ({ ...accounts.get(sub), sub }),
  };
}

function createProvider(issuer) {
  const requirePkce = config.require_pkce ?? true;
  const provider = new Provider(issuer, {
    clients: (config.clients ?? []).map(clientMetadata),
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: CLAIMS,
    scopes: ['openid', 'offline_access', ...Object.keys(CLAIMS)],
    // The configured claims go into the ID token as well as userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => requirePkce },
    features: { devInteractions: { enabled: false } },
    interactions: { policy: everyTimePolicy(), url: (ctx, { uid }) => `/interaction/${uid}` },
    findAccount,
  });
  provider.on('server_error', (ctx, error) => say('server_error', error));
  return provider;
}

// --- the interaction pages ------------------------------------------------------------------

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res, status, title, body) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': CSP,
    'cache-control': 'no-store',
  });
  res.end(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>`);
}

function cancelForm(uid) {
  return `<form method="post" action="/interaction/${uid}/abort">
<button type="submit">Cancel</button>
</form>`;
}

function loginPage(res, details, { status = 200, error = '', login = '' } = {}) {
  const { uid, params } = details;
  const value = login || params.login_hint || '';
  const message = error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : '';
  page(res, status, 'Sign in', `<p>Sign in to continue to ${escapeHtml(params.client_id)}.</p>
${message}
<form method="post" action="/interaction/${uid}/login">
<label>Subject <input type="text" name="login" value="${escapeHtml(value)}" required autofocus></label>
<label>Password <input type="password" name="password"></label>
<button type="submit">Sign-in</button>
</form>
${cancelForm(uid)}`);
}

function consentPage(res, details) {
  const { uid, params, session } = details;
  const scopes = String(params.scope ?? '').split(' ').filter(Boolean);
  const items = scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('');
  page(res, 200, 'Authorize', `<p>${escapeHtml(session?.accountId ?? '')}, allow
${escapeHtml(params.client_id)} to read:</p>
<ul>${items}</ul>
<form method="post" action="/interaction/${uid}/consent">
<button type="submit" autofocus>Continue</button>
</form>
${cancelForm(uid)}`);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function grantConsent(provider, details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    page(res, 400, 'Expired', '<p>This sign-in page is out of date.</p>');
    return;
  }
  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') loginPage(res, details);
    else consentPage(res, details);
    return;
  }
  if (req.method !== 'POST') {
    page(res, 405, 'Not allowed', '<p>Use the form.</p>');
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  if (action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User cancelled the sign-in' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } else if (action === 'login' && details.prompt.name === 'login') {
    const login = (form.get('login') ?? '').trim();
    if (!accounts.has(login)) {
      loginPage(res, details, { status: 401, error: `Unknown subject "${login}".`, login });
      return;
    }
    const result = { login: { accountId: login } };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } else if (action === 'consent' && details.prompt.name === 'consent') {
    const result = { consent: { grantId: await grantConsent(provider, details) } };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  } else {
    page(res, 400, 'Out of step', '<p>This form does not belong to the current step.</p>');
  }
}

// --- the test hook --------------------------------------------------------------------------

async function setAccount(req, res, sub) {
  if (!LOCAL_ADDRESSES.has(req.socket.remoteAddress) || req.method !== 'POST') {
    res.writeHead(req.method === 'POST' ? 403 : 405).end();
    return;
  }
  let claims;
  try {
    claims = JSON.parse(await readBody(req));
  } catch {
    claims = undefined;
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('a JSON object of claims expected');
    return;
  }
  accounts.set(sub, claims);
  res.writeHead(204).end();
}

// --- a plain OAuth 2.0 profile API ---------------------------------------------------------

async function oauthUser(provider, req, res) {
  const match = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '');
  const token = match && await provider.AccessToken.find(match[1]);
  const claims = token && accounts.get(token.accountId);
  if (!claims) {
    res.writeHead(401, {
      'content-type': 'application/json',
      'www-authenticate': 'Bearer error="invalid_token"',
    }).end(JSON.stringify({ error: 'invalid_token' }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify({ id: token.accountId, ...claims }));
}

// --- the server -----------------------------------------------------------------------------

const INTERACTION = /^\/interaction\/([\w-]+)(?:\/(login|consent|abort))?$/;
const OAUTH_USER = '/oauth/user';
const ACCOUNT_HOOK = /^\/__test\/accounts\/([^/]+)$/;

function handler(provider) {
  const oidc = provider.callback();
  return async (req, res) => {
    try {
      const { pathname } = new URL(req.url, 'http://upstream');
      const hook = ACCOUNT_HOOK.exec(pathname);
      if (hook) return await setAccount(req, res, decodeURIComponent(hook[1]));
      const step = INTERACTION.exec(pathname);
      if (step) return await interaction(provider, req, res, step[1], step[2]);
      if (pathname === OAUTH_USER && req.method === 'GET') {
        return await oauthUser(provider, req, res);
      }
      return await oidc(req, res);
    } catch (error) {
      if (error?.name === 'SessionNotFound') {
        page(res, 400, 'Expired', '<p>This sign-in has expired or was finished.</p>');
        return undefined;
      }
      if (error instanceof URIError || error?.code === 'ERR_INVALID_URL') {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('malformed URL');
        return undefined;
      }
      say('upstream error', error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('upstream error');
      return undefined;
    }
  };
}

// oidc-provider checks a static client's metadata when the client is first used: check them
// all before READY, so a mistake in a test's clients stops the start with its reason.
async function checkClients(provider) {
  for (const { client_id: clientId } of config.clients ?? []) {
    if (!await provider.Client.find(String(clientId))) {
      throw new Error(`client ${clientId} is invalid`);
    }
  }
}

const server = createServer();
server.listen(config.port ?? 0, '127.0.0.1', async () => {
  const { port } = server.address();
  const issuer = config.issuer ?? `http://${config.issuer_host ?? '127.0.0.1'}:${port}`;
  const provider = createProvider(issuer);
  try {
    await checkClients(provider);
  } catch (error) {
    say('upstream: bad client configuration:', error.error_description ?? error);
    process.exit(1);
  }
  server.on('request', handler(provider));
  process.stdout.write(`READY ${issuer}\n`);
});
