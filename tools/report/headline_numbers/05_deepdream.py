"""Notebook 05's headline numbers (see README.md beside this file). The dream parts record nothing until
exercises 5.1 and 5.2 are done: until then the notebook skips them, and their variables do not exist."""
from helpers import dream
from helpers.data.cifar import CLASSES
from helpers.models.cnn import TEST_ACCURACY
from helpers.models.second_cnn import SECOND_TEST_ACCURACY


def cnn_accuracy(subset_accuracy, second_accuracy):
    return {"cnn_test_accuracy": TEST_ACCURACY, "cnn_test_accuracy_subset": round(subset_accuracy, 4),
            "second_cnn_test_accuracy": SECOND_TEST_ACCURACY,
            "second_cnn_test_accuracy_subset": round(second_accuracy, 4)}


def class_images(class_p=None, class_r=None, classes=None):
    if not dream.ready("5.1", "5.2"):
        return {}
    return {**{f"p_{name}": round(p.item(), 4) for name, p in zip(CLASSES, class_p)},
            **{f"robustness_{name}": round(r.item(), 4) for name, r in zip(CLASSES, class_r)},
            **{f"second_p_{name}": round(q.item(), 4) for name, q in zip(CLASSES, classes["transfer_p"])},
            "min_class_probability": round(class_p.min().item(), 4),
            "min_class_robustness": round(class_r.min().item(), 4)}


def improvement_ladder(ladder_p=None, ladder_r=None, ladder_rough=None, adversarial_p=None, adversarial_r=None,
                       adversarial_second=None, ladder=None):
    if not dream.ready("5.1", "5.2"):
        return {}
    return {"plain_probability": round(ladder_p[0].item(), 4), "plain_robustness": round(ladder_r[0].item(), 4),
            "plain_roughness": round(ladder_rough[0].item(), 4),
            "default_probability": round(ladder_p[-1].item(), 4),
            "default_robustness": round(ladder_r[-1].item(), 4),
            "default_roughness": round(ladder_rough[-1].item(), 4),
            "adversarial_probability": round(adversarial_p, 4), "adversarial_robustness": round(adversarial_r, 4),
            "adversarial_second_probability": round(adversarial_second, 4),
            "plain_second_probability": round(ladder["transfer_p"][0].item(), 4),
            "default_second_probability": round(ladder["transfer_p"][-1].item(), 4),
            "plain_second_margin": round(ladder["transfer_margin"][0].item(), 4),
            "default_second_margin": round(ladder["transfer_margin"][-1].item(), 4)}
