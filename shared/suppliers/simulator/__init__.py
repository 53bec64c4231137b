"""A local top-up supplier for the demo and the tests: `python -m shared.suppliers.simulator`."""
