"""The OpenID Provider: authorization requests, tokens, keys and claims, ZITADEL-compatible.

One module per specification or endpoint concept; `docs/oidc.md` explains the flows and why
the grants are implemented on the core instead of through authlib's synchronous server.
"""
