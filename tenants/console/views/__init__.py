"""Pages of the site console, one module per concern."""
