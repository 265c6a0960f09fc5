"""The runner proof: install a wheel into a bare root filesystem and import it there."""
