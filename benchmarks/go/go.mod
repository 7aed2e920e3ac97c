module weft.example/benchmarks

go 1.19
