"""Helpers shared by the test suites: image archives built in memory, the fake engine, the
disposable engines and output checks of the fault tests, and baseline files."""
