"""Browser tests of the Scheduling page, against the stack of `make run`."""
