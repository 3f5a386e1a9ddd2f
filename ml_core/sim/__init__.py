"""A seeded store simulator on floor metres: shoppers, groups, a checkout queue and staff (numpy only)."""
