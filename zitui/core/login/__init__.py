"""The sign-in flow: a stored flow per pass through the login, one core call per page.

`steps` names what a page shows next, `reuse` decides when a browser session may be reused,
`flows` (LoginFlowService) moves a flow from step to step. See docs/login.md.
"""
