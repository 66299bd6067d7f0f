"""Measuring the routing code, not running it: tools the benchmarks and evaluation tests use.

`habit` is the dispatch-by-habit peer the optimizer is measured against, `solomon` reads and re-checks the
Solomon VRPTW instances, `graphs` compares the approximate derived street graph with a real OSM one. The
product (planning, the solver, the pages) never imports this package. Django-free, like routing.problem.
"""
