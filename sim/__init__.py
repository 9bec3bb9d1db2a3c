"""The offline harness: embedded AWS (moto server), replay of recorded calls, reports.

Never deployed. ``python -m sim --help`` lists the commands.
"""
