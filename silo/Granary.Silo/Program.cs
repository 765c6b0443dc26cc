return await Granary.Silo.Cli.GranaryCli.RunAsync(args);
