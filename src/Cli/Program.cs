using LoraService.Cli;

const string Usage = """
    usage: LoraService.Cli <verb> [options]

      create-model --arch llama|gpt2 --out DIR [--hidden N --layers N --heads N --kv-heads N
                   --intermediate N --vocab N --positions N --seed N --dtype float32|bfloat16|float16]
          Writes a randomly initialised Hugging Face checkpoint (config, safetensors, tokenizer), in --dtype.

      train SPEC.json [--out DIR] [--work DIR] [--device auto|cpu|cuda] [--quiet]
          One fine-tuning run (LoRA or full) on this machine: baseline and periodic evaluation, checkpoints, and the
          artifacts the service serves (PEFT adapter, merged or full model, metrics.jsonl, summary.json, spectral.json).
          SPEC.json is the body of POST /api/v1/jobs with a checkpoint folder as base_model and JSONL files as
          datasets (paths relative to the spec). Artifacts go to --out (SPEC.out), checkpoints to --work (SPEC.work);
          rerunning resumes from there. Ctrl-C stops after the current step.

      samples --out DIR [--train-rows N --eval-rows N]
          Writes the generated quickstart datasets (source-domain sentences, target-domain arithmetic) as JSONL.

      bench [--configs small,medium,qwen0.5b] [--modes full,lora] [--steps N --warmup N]
            [--small-steps N --small-warmup N --medium-steps N --medium-warmup N]
            [--threads N] [--seed N] [--out results.jsonl] [--in-process] [--gradient-checkpointing]
            [--dense-loss] [--lora-dropout P] [--device cpu|cuda] [--dtype float32|bfloat16]
          Training-step throughput of the engine on the shapes of ../shared/bench/torch_ref.py (and Qwen2.5-0.5B's).
          Each (config, mode) runs in a child process; one JSON line per run on stdout. The loss is the trainer's
          (logits a block at a time); --dense-loss forms the whole [batch, seq, vocab] logits at once instead.

      bench-load [--config qwen0.5b] [--dir DIR] [--rounds N] [--shard-mb N] [--threads N] [--cold]
          Loading a bf16 sharded checkpoint of a bench shape against reading its bytes, alternated in child processes;
          --cold drops the page cache before each (root).

      bench-pipe [--messages N] [--mode lora|full] [--threads N] [--step-ms MS]
          Per-step cost of the attempt pipe protocol (serialize + write + flush of a step line into a real pipe that
          another thread parses) against the step time of the bench small config (or --step-ms); one JSON line.

      bench-eval [--config small|medium] [--prompts N] [--new-tokens N] [--rounds N] [--batch-size N]
                 [--batch-tokens N] [--min-prompt N --max-prompt N] [--threads N] [--seed N]
          Exact-match generation as evaluation runs it, batched vs one prompt at a time, alternating within each
          round on the bench config's random model (default 200 prompts of 30–110 tokens × 64 new tokens); checks
          that both give the same tokens; one JSON line.

      parity-fixtures --out DIR
          Tiny checkpoints of each family (Llama with llama3 rope, head_dim and biases; tied with rsLoRA; Mistral and
          Gemma 2 with windows shorter than the sequence; Qwen3; Phi-3), each with a PEFT adapter, a merged export and
          this engine's logits for all three, for scripts/device/hf_parity.py to check against transformers and PEFT.
    """;

try
{
    if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
    {
        Console.WriteLine(Usage);
        return args.Length == 0 ? 2 : 0;
    }
    Args Rest() => new(args.Skip(1));
    return args[0] switch
    {
        "create-model" => CreateModel.Run(Rest()),
        "train" when args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) => Train.Run(new Args(args.Skip(2)), args[1]),
        "train" => throw new UsageException("train needs a spec file: train SPEC.json"),
        "samples" => Samples.Run(Rest()),
        "bench" => Bench.Run(Rest()),
        Bench.ChildVerb => Bench.RunChild(Rest()),
        BenchLoad.Verb => BenchLoad.Run(Rest()),
        BenchLoad.ChildVerb => BenchLoad.RunChild(Rest()),
        BenchPipe.Verb => BenchPipe.Run(Rest()),
        EvalBench.Verb => EvalBench.Run(Rest()),
        ParityFixtures.Verb => ParityFixtures.Run(Rest()),
        Attempt.Verb when args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) => Attempt.Run(new Args(args.Skip(2)), args[1]),
        Attempt.Verb => throw new UsageException("attempt needs a spec file: attempt SPEC.json"),
        _ => throw new UsageException($"unknown verb '{args[0]}'"),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
