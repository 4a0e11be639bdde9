using LoraService.Cli;

const string Usage = """
    usage: LoraService.Cli <verb> [options]

      create-model --arch llama|gpt2 --out DIR [--hidden N --layers N --heads N --kv-heads N
                   --intermediate N --vocab N --positions N --seed N]
          Writes a randomly initialised Hugging Face checkpoint (config, safetensors, tokenizer).

      bench [--configs small,medium] [--modes full,lora] [--steps N --warmup N]
            [--small-steps N --small-warmup N --medium-steps N --medium-warmup N]
            [--threads N] [--seed N] [--out results.jsonl] [--in-process]
          Training-step throughput of the engine on the shapes of ../shared/bench/torch_ref.py.
          Each (config, mode) runs in a child process; one JSON line per run on stdout.
    """;

try
{
    if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
    {
        Console.WriteLine(Usage);
        return args.Length == 0 ? 2 : 0;
    }
    var rest = new Args(args.Skip(1));
    return args[0] switch
    {
        "create-model" => CreateModel.Run(rest),
        "bench" => Bench.Run(rest),
        Bench.ChildVerb => Bench.RunChild(rest),
        _ => throw new UsageException($"unknown verb '{args[0]}'"),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
