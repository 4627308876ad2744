"""The control plane: versioned artifacts pushed to every POP, with rollouts and generators.

    app.py         ControlServer: the JSON API and long-poll subscriptions (`edgelab control`)
    store.py       versions by kind, history, state directory
    fleet.py       which POP runs which version, propagation lag
    rollout.py     push targets: all, a fraction, a list (pure)
    generators.py  re-create an artifact every T seconds, bad with probability p (flapping)
    mutations.py   the named ways an artifact goes bad (pure)
    model.py       API request bodies

The edge side is `edgelab.edge.subscriber`.
"""
