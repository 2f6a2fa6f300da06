"""The field installer's concern: commands to gateways (measure now), the snapshot an
installer reads, placement advice, and the acceptance baseline recorded at each visit."""
