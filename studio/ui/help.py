"""Words on the page: what each step is for, in plain language."""

HEADER = """# ⚙ Fine-tuning studio
**Model → Data → Train → Chat.** Pick a base model, give it examples, train, and compare it with the original.
Everything runs on this machine; runs are kept in folders and survive a page reload or a restart."""

MODEL = """### 1 · Choose a base model
The **embedded** models work offline on a CPU: *SmolLM2-135M-Instruct* is a small chat model,
*all-MiniLM-L6-v2* a small text encoder for classification. A Hub id (`org/name`) needs internet; a local
folder (Hugging Face layout) or a `.gguf` file works offline."""

METHOD_TABLE_NOTE = ("Memory and time are estimates (±30%) for batch 8 and the typical example length "
                     "of your data (128 tokens until data is loaded). The Train tab recomputes them for your exact settings.")

DATA = """### 2 · Bring examples
Upload a CSV, JSON, JSONL, Parquet or text file, or start from a shipped sample. The studio detects the
format, checks the data's health (empty answers, duplicates, overly long examples, leakage into the eval
split, label balance) and shows **exactly which tokens the model learns from**. Conversations with images:
upload a .zip holding the data file and its images (paths relative to the data file)."""

TRAIN = """### 3 · Train
Pick a preset or set the knobs yourself (the grey line under each one says what it does). The memory and time estimate updates as
you go. Training runs in the background: you can reload the page or close it, the run goes on."""

CHAT = """### 4 · Try it
One message goes to both models: the **base** model on the left, your **tuned** model on the right, with the
same sampling settings and the model's own chat template. Temperature 0 answers the same way every time."""

RUNS = """### Runs
Every run on this server, newest first. Pick one to see its whole chart, resume one that was stopped or cut
off by a restart, or get the command that replays it without a browser."""

TRAINED_TOKENS = ("Highlighted tokens are the ones the model learns to write (the answers); grey ones are "
                  "context it reads but is not trained on.")

SIGN_IN = ("<b>Fine-tuning studio</b>: sign in with the name and password you were given. At a workshop: choose "
           "a name (letters, digits, . _ -) and type your join code as the password; use the same name and code "
           "to come back.")
