"""The Starlette server: hosted pages, health check and (later) the OIDC endpoints."""
