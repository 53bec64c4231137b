"""A tenant app used to prove that new migrations reach every schema, pooled ones included."""
