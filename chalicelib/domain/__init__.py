"""The pure core: no I/O, no environment, no clock, no random ids.

Everything here is a function of its arguments, so it is tested without mocks. ``now`` (epoch
milliseconds), ids and limits are passed in.
"""
