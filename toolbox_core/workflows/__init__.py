"""Workflows: orchestration that spans the domains (orders, payments, checkout, inventory).

The domain packages (``orders``, ``payments``, ``checkout``, ``inventory``...) never import this
layer; the layer imports them. So a payment report that completes a cart (checkout) and changes
an order (orders), or an admin cancel that refunds through the provider (payments), lives here,
and the domains stay free of import cycles (``tests/test_layering.py`` checks it).
"""
