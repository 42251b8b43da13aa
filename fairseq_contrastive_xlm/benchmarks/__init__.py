"""The benchmarks behind cxlm-bench and cxlm-bench-mining: fairseq's Trainer driven in this process and what one
step of it costs (trainer), the runs of the plugin against stock fairseq and the NT-Xent scaling (training), the
fp16 and bf16 check against fp32 (precision), the tables and targets cxlm-bench prints (report), and the cost of
bitext mining as collections grow (mining)."""
