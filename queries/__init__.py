"""Read functions over the projections; they never write."""
