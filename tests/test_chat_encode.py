import pytest

from studio.core import models
from studio.core.chat_template import FALLBACK_TEMPLATE
from studio.tasks.chat.encode import IGNORE, encode_example, encode_records


@pytest.fixture(scope="module")
def tok():
    return models.load_tokenizer("smollm2")


def learned(tok, ex):
    return tok.decode([i for i, l in zip(ex["input_ids"], ex["labels"]) if l != IGNORE])


def test_loss_only_on_assistant_turns(tok):
    rec = {"messages": [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "What is 2+2?"},
                        {"role": "assistant", "content": "Four."},
                        {"role": "user", "content": "And 3+3?"},
                        {"role": "assistant", "content": "Six!"}]}
    ex = encode_example(tok, rec, 512)
    assert len(ex["input_ids"]) == len(ex["labels"])
    text = learned(tok, ex)
    assert "Four." in text and "Six!" in text and text.count("<|im_end|>") == 2
    assert "2+2" not in text and "Be brief" not in text and "user" not in text
    # the whole conversation is rendered with the model's own chat template
    assert tok.decode(ex["input_ids"]).startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_train_on_prompt_learns_everything(tok):
    rec = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    ex = encode_example(tok, rec, 512, train_on_prompt=True)
    assert ex["labels"] == ex["input_ids"]


def test_plain_text_is_learned_in_full_and_cut(tok):
    ex = encode_example(tok, {"text": "one two three " * 50}, 16)
    assert len(ex["input_ids"]) == 16 and ex["labels"] == ex["input_ids"]


def test_records_whose_answer_is_cut_away_are_dropped(tok):
    long_prompt = {"messages": [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "ok"}]}
    short = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}
    kept, dropped = encode_records(tok, [long_prompt, short], 64)
    assert dropped == 1 and len(kept) == 1 and kept[0]["attention_mask"] == [1] * len(kept[0]["input_ids"])


def test_fallback_template_for_models_without_one(tok):
    import copy

    bare = copy.deepcopy(tok)
    bare.chat_template = None
    ex = encode_example(bare, {"messages": [{"role": "user", "content": "Name a color."},
                                            {"role": "assistant", "content": "Blue."}]}, 128)
    assert bare.chat_template == FALLBACK_TEMPLATE
    assert learned(bare, ex).startswith("Blue.") and "Name a color" not in learned(bare, ex)
