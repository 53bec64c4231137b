"""Views of the HQ console, one module per area; each validates a form and calls a service."""
