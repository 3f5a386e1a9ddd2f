"""Production topology fault runs: a WAN link that can be cut, an edge load, and the runs themselves."""
