"""Diagnostic: GRPO on the answer token alone, to separate "can RL learn this task" from the trainer's rollouts.

    python studies/answer_token_grpo.py --model runs/demo/checkpoints/sft --data runs/demo/synth [--lr 3e-4]

Once a cold start has learned the answer format, a multiple-choice completion is fixed text around one token,
the option letter. This loop keeps the format teacher-forced and samples only that token (G per prompt, over the
whole vocabulary: anything but the gold letter scores 0), with GRPO's group advantage
A = (r - mean) / (std + 1e-4) and the loss -mean(A * log pi(letter)). It prints sampled accuracy and greedy
held-out accuracy as it goes. Not a trainer: no format tokens, no T-GRPO, no checkpoints (docs/deviations.md,
"Demo and study", compares it with `videorft train grpo` on the same cold starts).
"""

from __future__ import annotations

import argparse
import random
import time

import torch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", required=True, help="a cold-start checkpoint (format learned)")
    parser.add_argument("--data", required=True, help="the suite (a folder with videorft_data.yaml)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--prompts", type=int, default=8, help="prompts per step")
    parser.add_argument("--generations", type=int, default=4, help="G: sampled answers per prompt")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--balanced", action="store_true", help="half the prompts of a step answer A, half B")
    parser.add_argument("--eval-limit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from videorft.demo import DemoConfig, demo_data_args
    from videorft.inputs import SampleEncoder, row_record
    from videorft.models.loading import load_model, load_processor
    from videorft.training.cpu_trainer import target_columns
    from videorft.training.run import build_dataset
    from videorft.training.sft import VideoSFTCollator

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    processor, model = load_processor(args.model), load_model(args.model)
    data_args = demo_data_args(DemoConfig(), args.data)
    # the SFT collator left-pads prompt + gold target, so the letter sits in the last label columns
    collate = VideoSFTCollator(SampleEncoder.from_data_args(processor, data_args))
    train = list(build_dataset(data_args, split="train")[0])
    test = list(build_dataset(data_args, split="test")[0])[: args.eval_limit]
    by_letter = [[r for r in train if row_record(r).solution == letter] for letter in "AB"]
    tok = processor.tokenizer
    a_ids, b_ids = tok.encode("<answer>A</answer>"), tok.encode("<answer>B</answer>")
    at = next(i for i, (x, y) in enumerate(zip(a_ids, b_ids)) if x != y)
    letters = torch.tensor([a_ids[at], b_ids[at]])  # Qwen merges '>' and the letter: '>A', '>B'

    def answer_logprobs(rows: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(. | prompt, '<answer') at the letter position (P, V), and the gold letter ids (P,)."""
        batch = collate(rows)
        labels = batch.pop("labels")
        keep = target_columns(labels)
        logits = model(**batch, use_cache=False, logits_to_keep=keep + 1).logits[:, :-1]  # (P, keep, V)
        targets = labels[:, -keep:]
        pos = torch.isin(targets, letters).int().argmax(dim=1)  # first letter token of each row
        picked = torch.arange(len(rows))
        return torch.log_softmax(logits[picked, pos].float(), -1), targets[picked, pos]

    def held_out() -> float:
        model.eval()
        with torch.no_grad():
            right = sum(
                (lp.argmax(-1) == gold).sum().item()
                for lp, gold in (answer_logprobs(test[i : i + 25]) for i in range(0, len(test), 25))
            )
        model.train()
        return right / len(test)

    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    print(f"step 0: held-out accuracy {held_out():.2f}", flush=True)
    started, sampled = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        if args.balanced:
            half = args.prompts // 2
            batch = rng.sample(by_letter[0], half) + rng.sample(by_letter[1], args.prompts - half)
        else:
            batch = rng.sample(train, args.prompts)
        logp, gold = answer_logprobs(batch)
        with torch.no_grad():
            answers = torch.multinomial(logp.exp(), args.generations, replacement=True)  # (P, G)
        reward = (answers == gold[:, None]).float()
        advantage = (reward - reward.mean(1, keepdim=True)) / (reward.std(1, keepdim=True) + 1e-4)
        loss = -(advantage * logp.gather(1, answers)).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sampled.append(reward.mean().item())
        if step % 25 == 0:
            print(
                f"step {step}: sampled accuracy {sum(sampled[-25:]) / 25:.2f}, held-out accuracy {held_out():.2f} "
                f"({(time.perf_counter() - started) / step:.2f} s/step)",
                flush=True,
            )


if __name__ == "__main__":
    main()
