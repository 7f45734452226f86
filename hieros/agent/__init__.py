"""The torch model: HIEROS's levels (world model, actor-critic, subgoal autoencoder) and DreamerV3's RSSM agent.

Nothing outside `hieros.agent` imports torch, except the tools that measure or run a trained model
(hieros.train, hieros.openloop); bench/ and analysis/ never import it (import-linter contracts, pyproject.toml).
`build.make_learning_agent(config, obs_space, act_space)` is the way in; docs/architecture.md maps the rest.
"""
