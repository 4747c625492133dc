"""Notebook 00a's headline numbers (see README.md beside this file)."""


def chain_rule_costs(all_agree, costs5):
    return {"engine_matches_closed_forms": all_agree,
            "two_neuron_reverse_mode_products": costs5.reverse_mode,
            "two_neuron_forward_mode_products": costs5.forward_mode}
