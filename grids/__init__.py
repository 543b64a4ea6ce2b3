"""The grid-management (网格化管理) domain: grids, codes, locating, incidents."""
