"""Network plumbing shared by the tcp and gelf collectors (framing, GELF, stream server)."""
