"""`make bench`: what each request costs (DynamoDB requests, items read, milliseconds, imports,
bundle size), measured the same way every run and checked against budgets. See README "Benchmark".
"""
