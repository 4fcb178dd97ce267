"""Record keeping: clients and everything logged about them, validated and audited."""
