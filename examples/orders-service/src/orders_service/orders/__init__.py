"""Orders: a domain added by `make domain NAME=orders`, the team's to grow."""
