"""Bot management as pure decisions: request signals, a feature table, a score, score rules.

    features = parse_feature_file(content)                # features.py
    model = ScoringModel(FeatureTable(200).load(features).unwrap().features)   # scoring.py
    score = model.score(RequestSignals.extract(method, path, headers, rate_rps))
    rule = first_match(rules, method, path, score)        # rules.py

No aiohttp, no clock, no rng: the edge stage (`edgelab.edge.stages.bot`) passes them in.
"""
