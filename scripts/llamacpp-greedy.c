// Greedy tokens of a GGUF model from llama.cpp, as JSON {"prompt_ids":[...],"token_ids":[...]}: the reference that
// tests/data/stories15M/reference/ref_greedy_tokens_llamacpp_q8_0.json was made with (scripts/bench-llamacpp.sh
// --reference builds and runs it). Usage: llamacpp-greedy MODEL.gguf PROMPT N [THREADS]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml-backend.h"
#include "llama.h"

int main(int argc, char ** argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MODEL.gguf PROMPT N [THREADS]\n", argv[0]); return 2; }
    const char * prompt = argv[2];
    int n = atoi(argv[3]), threads = argc > 4 ? atoi(argv[4]) : 2;
    ggml_backend_load_all();
    struct llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    int count = -llama_tokenize(vocab, prompt, (int) strlen(prompt), NULL, 0, true, true);
    llama_token * ids = malloc(sizeof(llama_token) * count);
    llama_tokenize(vocab, prompt, (int) strlen(prompt), ids, count, true, true);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = count + n;
    cp.n_batch = count;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    struct llama_context * ctx = llama_init_from_model(model, cp);
    struct llama_sampler * sampler = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(sampler, llama_sampler_init_greedy());
    printf("{\"prompt_ids\":[");
    for (int i = 0; i < count; i++) printf(i ? ",%d" : "%d", ids[i]);
    printf("],\"token_ids\":[");
    struct llama_batch batch = llama_batch_get_one(ids, count);
    llama_token token;
    for (int i = 0; i < n; i++) {
        if (llama_decode(ctx, batch)) { fprintf(stderr, "llama_decode failed\n"); return 1; }
        token = llama_sampler_sample(sampler, ctx, -1);
        printf(i ? ",%d" : "%d", token);
        batch = llama_batch_get_one(&token, 1);
    }
    printf("]}\n");
    llama_sampler_free(sampler);
    llama_free(ctx);
    llama_model_free(model);
    free(ids);
    return 0;
}
