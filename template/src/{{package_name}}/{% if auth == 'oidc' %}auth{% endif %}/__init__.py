"""Who is calling: access tokens from the OpenID provider, verified on every API request."""
