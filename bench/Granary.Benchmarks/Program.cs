using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Granary.Benchmarks -- --filter '*'   (BenchmarkDotNet's switches; --list flat lists them)
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
