"""Recording a work tree: the recorder (activity batches, commits, branch switches, idle
time) against a narrow port of session operations, the watches, the ignore rules and the
lease that makes one process per root record."""
