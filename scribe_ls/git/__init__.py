"""git, run on behalf of an untrusted repository: the commands, their hardening, the files read.

Nothing is imported here: each caller pays for the modules it uses (CLI start-up).
"""
