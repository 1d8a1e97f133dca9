// A strict certified relying party (openid-client 6) signing a user in through zitui's hosted
// login pages, then checking the tokens, the userinfo and a refresh.
//
// Usage: node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET|- REDIRECT_URI LOGIN_NAME PASSWORD
// (or RP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI, RP_LOGIN_NAME, RP_PASSWORD;
// a secret of "-" or "" means a public client). Prints one JSON line on success.
import * as client from 'openid-client';

const [issuerArg, clientIdArg, secretArg, redirectArg, loginArg, passwordArg] =
  process.argv.slice(2);
const env = process.env;
const issuer = issuerArg ?? env.RP_ISSUER;
const clientId = clientIdArg ?? env.RP_CLIENT_ID;
const rawSecret = secretArg ?? env.RP_CLIENT_SECRET ?? '';
const clientSecret = rawSecret === '-' ? '' : rawSecret;
const redirectUri = redirectArg ?? env.RP_REDIRECT_URI;
const loginName = loginArg ?? env.RP_LOGIN_NAME;
const password = passwordArg ?? env.RP_PASSWORD;
if (!issuer || !clientId || !redirectUri || !loginName || !password) {
  console.error('usage: rp.mjs ISSUER CLIENT_ID CLIENT_SECRET|- REDIRECT_URI LOGIN_NAME PASSWORD');
  process.exit(2);
}

// --- a minimal browser: a cookie jar, manual redirects and a form reader ---------------------

const jar = new Map();

function keepCookies(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (/max-age=0/i.test(line) || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

async function browse(url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  keepCookies(response);
  return response;
}

function unescapeHtml(text) {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attribute(tag, name) {
  const match = tag.match(new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i'));
  return match ? unescapeHtml(match[2] ?? match[3]) : undefined;
}

// The form posting to `action`: its hidden and prefilled inputs.
function readForm(html, action) {
  for (const match of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const open = match[0].slice(0, match[0].indexOf('>') + 1);
    if (attribute(open, 'action') !== action) continue;
    const fields = {};
    for (const input of match[1].matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input[0], 'name');
      if (name) fields[name] = attribute(input[0], 'value') ?? '';
    }
    return fields;
  }
  throw new Error(`no form posting to ${action} in:\n${html.slice(0, 2000)}`);
}

// Follow redirects within the issuer; stop at (and return the URL of) the redirect URI.
async function follow(response, base) {
  let current = base;
  while ([301, 302, 303, 307].includes(response.status)) {
    const next = new URL(response.headers.get('location'), current);
    if (next.href.startsWith(redirectUri)) return { callback: next };
    current = next;
    response = await browse(next);
  }
  return { response, url: current };
}

async function post(url, fields) {
  return browse(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

function expectPage(step, result) {
  if (result.callback) throw new Error(`${step}: redirected to the client too early`);
  if (result.response.status !== 200) {
    throw new Error(`${step}: HTTP ${result.response.status}`);
  }
}

// --- the relying party -------------------------------------------------------------------------

const config = await client.discovery(
  new URL(issuer),
  clientId,
  clientSecret ? { client_secret: clientSecret } : { token_endpoint_auth_method: 'none' },
  clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(),
  { execute: [client.allowInsecureRequests] },
);

const pkceCodeVerifier = client.randomPKCECodeVerifier();
const codeChallenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
const state = client.randomState();
const nonce = client.randomNonce();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  state,
  nonce,
});

// authorize → login name page → password page → callback → redirect URI
let step = await follow(await browse(authorizationUrl), authorizationUrl);
expectPage('login name page', step);
const nameAction = '/ui/login/loginname';
let html = await step.response.text();
let fields = readForm(html, nameAction);
step = await follow(
  await post(new URL(nameAction, step.url), { ...fields, login_name: loginName }),
  step.url,
);
expectPage('password page', step);
const passwordAction = '/ui/login/password';
html = await step.response.text();
fields = readForm(html, passwordAction);
step = await follow(
  await post(new URL(passwordAction, step.url), { ...fields, password }),
  step.url,
);
if (!step.callback) {
  const body = await step.response.text();
  throw new Error(`sign-in did not reach the redirect URI: HTTP ${step.response.status}\n${body}`);
}

const tokens = await client.authorizationCodeGrant(config, step.callback, {
  pkceCodeVerifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

let refreshed = null;
if (tokens.refresh_token) {
  const again = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedUserinfo = await client.fetchUserInfo(config, again.access_token, claims.sub);
  refreshed = {
    access_token_changed: again.access_token !== tokens.access_token,
    id_token_sub: again.claims()?.sub ?? null,
    userinfo_sub: refreshedUserinfo.sub,
    has_refresh_token: Boolean(again.refresh_token),
  };
}

console.log(
  JSON.stringify({
    issuer: config.serverMetadata().issuer,
    claims,
    userinfo,
    token_type: tokens.token_type,
    scope: tokens.scope ?? null,
    has_refresh_token: Boolean(tokens.refresh_token),
    refreshed,
  }),
);
