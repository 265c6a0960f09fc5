"""Linux platform knowledge: manylinux/musllinux policies (auditwheel's data) and shared-library
resolution the way the dynamic loader does it."""
