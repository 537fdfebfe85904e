"""Online annual inspection (网络年检, art. 26): holders submit within the type's window, the issuer decides, beat suspends the uninspected."""
