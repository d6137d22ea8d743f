"""Generate `evalhub/catalog/data/lm_evaluation_harness.json` from a curated table and lm-eval's own configs.

The table below chooses the benchmarks and gives each a category, a name, a description and tags.
Everything else (metrics, output type, default few-shot count, group or task) is read from the task
YAMLs that lm-eval's TaskManager indexes. Tasks are never instantiated: that would download datasets.

    .venv/bin/python scripts/gen_lm_eval_catalog.py          # rewrite the JSON file
    .venv/bin/python scripts/gen_lm_eval_catalog.py --check  # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalhub.catalog.loader import CATEGORIES

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "layers/common/evalhub/catalog/data/lm_evaluation_harness.json"

PROVIDER = {
    "provider_id": "lm_evaluation_harness",
    "provider_name": "LM Evaluation Harness",
    "provider_type": "builtin",
    "description": (
        "EleutherAI's LM Evaluation Harness (lm-eval 0.4.13): few-shot evaluation of language models "
        "on academic benchmarks, run by the hub's lm-evaluation-harness backend."
    ),
}


# category -> (benchmark_id, name, description, space-separated tags)
CURATED: dict[str, list[tuple[str, str, str, str]]] = {
    "general": [
        (
            "ifeval",
            "IFEval",
            "Follow verifiable instructions (length, format, keywords).",
            "instruction_following",
        ),
        (
            "leaderboard",
            "Open LLM Leaderboard v2",
            "MMLU-Pro, BBH, GPQA, MATH hard, IFEval and MuSR as in the Open LLM Leaderboard v2.",
            "suite open_llm_leaderboard_v2",
        ),
        (
            "leaderboard_ifeval",
            "IFEval (Leaderboard v2)",
            "IFEval with the Open LLM Leaderboard v2 settings.",
            "instruction_following open_llm_leaderboard_v2",
        ),
        (
            "leaderboard_instruction_following",
            "Instruction Following (Leaderboard v2)",
            "The Open LLM Leaderboard v2 instruction-following group (IFEval).",
            "instruction_following open_llm_leaderboard_v2",
        ),
        (
            "tinyBenchmarks",
            "tinyBenchmarks",
            "100-example versions of the Open LLM Leaderboard v1 tasks for quick estimates.",
            "suite tiny",
        ),
        ("metabench", "metabench", "Sparse, informative subsets of six popular LLM benchmarks.", "suite"),
        ("pythia", "Pythia Suite", "The evaluation suite used for the Pythia model family.", "suite"),
        ("eq_bench", "EQ-Bench", "Emotional intelligence: rate emotion intensities in dialogues.", "emotion"),
        ("cola", "CoLA", "GLUE: judge whether an English sentence is grammatical.", "glue nlu"),
        ("mnli", "MNLI", "GLUE: natural language inference, matched genres.", "glue nlu nli"),
        (
            "mnli_mismatch",
            "MNLI Mismatched",
            "GLUE: natural language inference, mismatched genres.",
            "glue nlu nli",
        ),
        ("mrpc", "MRPC", "GLUE: decide whether two sentences are paraphrases.", "glue nlu paraphrase"),
        ("qnli", "QNLI", "GLUE: does the sentence answer the question.", "glue nlu nli"),
        ("qqp", "QQP", "GLUE: decide whether two Quora questions are duplicates.", "glue nlu paraphrase"),
        ("rte", "RTE", "GLUE: recognizing textual entailment.", "glue nlu nli"),
        ("sst2", "SST-2", "GLUE: binary sentiment of movie review sentences.", "glue nlu sentiment"),
        ("wnli", "WNLI", "GLUE: Winograd-style inference.", "glue nlu nli"),
        ("cb", "CommitmentBank", "SuperGLUE: three-way entailment on embedded clauses.", "superglue nlu nli"),
        ("wic", "WiC", "SuperGLUE: is a word used with the same sense in two sentences.", "superglue nlu"),
        ("anagrams1", "Anagrams 1", "Unscramble a word whose inner letters are shuffled.", "unscramble"),
        (
            "anagrams2",
            "Anagrams 2",
            "Unscramble a word with all but two letters at each end shuffled.",
            "unscramble",
        ),
        ("cycle_letters", "Cycle Letters", "Recover a word whose letters were cycled.", "unscramble"),
        (
            "random_insertion",
            "Random Insertion",
            "Recover a word with random characters inserted.",
            "unscramble",
        ),
        ("reversed_words", "Reversed Words", "Recover a word spelled backwards.", "unscramble"),
    ],
    "knowledge": [
        (
            "mmlu",
            "MMLU",
            "57 subjects of multiple-choice questions from STEM to humanities.",
            "open_llm_leaderboard_v1",
        ),
        ("mmlu_humanities", "MMLU Humanities", "The humanities subjects of MMLU.", "mmlu"),
        ("mmlu_social_sciences", "MMLU Social Sciences", "The social-science subjects of MMLU.", "mmlu"),
        ("mmlu_other", "MMLU Other", "MMLU subjects outside STEM, humanities and social sciences.", "mmlu"),
        (
            "mmlu_generative",
            "MMLU (generative)",
            "MMLU answered by generating the letter.",
            "mmlu generative",
        ),
        (
            "mmlu_continuation",
            "MMLU (continuation)",
            "MMLU scored as a continuation, without letters.",
            "mmlu",
        ),
        ("mmlu_pro", "MMLU-Pro", "Harder, reasoning-focused MMLU with ten answer options.", "mmlu_pro"),
        (
            "leaderboard_mmlu_pro",
            "MMLU-Pro (Leaderboard v2)",
            "MMLU-Pro with the Open LLM Leaderboard v2 settings.",
            "mmlu_pro open_llm_leaderboard_v2",
        ),
        (
            "mmlu_pro_plus",
            "MMLU-Pro+",
            "MMLU-Pro with extra distractors to test shortcut learning.",
            "mmlu_pro",
        ),
        (
            "mmlu_redux_generative",
            "MMLU-Redux",
            "Re-annotated MMLU subset with label errors fixed.",
            "mmlu generative",
        ),
        ("mmlusr", "MMLU-SR", "MMLU with key terms replaced by made-up symbols.", "mmlu robustness"),
        ("tinyMMLU", "tinyMMLU", "100-question subset of MMLU.", "mmlu tiny"),
        ("mmlu_pro_law", "MMLU-Pro Law", "MMLU-Pro law questions.", "mmlu_pro"),
        ("mmlu_pro_history", "MMLU-Pro History", "MMLU-Pro history questions.", "mmlu_pro"),
        ("mmlu_pro_economics", "MMLU-Pro Economics", "MMLU-Pro economics questions.", "mmlu_pro"),
        ("mmlu_pro_business", "MMLU-Pro Business", "MMLU-Pro business questions.", "mmlu_pro"),
        ("mmlu_pro_philosophy", "MMLU-Pro Philosophy", "MMLU-Pro philosophy questions.", "mmlu_pro"),
        ("mmlu_pro_psychology", "MMLU-Pro Psychology", "MMLU-Pro psychology questions.", "mmlu_pro"),
        ("mmlu_pro_other", "MMLU-Pro Other", "MMLU-Pro miscellaneous questions.", "mmlu_pro"),
        ("mmlu_world_religions", "MMLU World Religions", "MMLU world religions questions.", "mmlu"),
        ("mmlu_professional_law", "MMLU Professional Law", "MMLU professional law questions.", "mmlu"),
        (
            "mmlu_high_school_world_history",
            "MMLU HS World History",
            "MMLU high-school world history.",
            "mmlu",
        ),
        ("mmlu_us_foreign_policy", "MMLU US Foreign Policy", "MMLU US foreign policy questions.", "mmlu"),
        ("mmlu_global_facts", "MMLU Global Facts", "MMLU global facts questions.", "mmlu"),
        ("triviaqa", "TriviaQA", "Open-domain trivia questions answered without context.", "open_domain_qa"),
        (
            "nq_open",
            "Natural Questions (open)",
            "Google search questions answered without context.",
            "open_domain_qa",
        ),
        ("webqs", "WebQuestions", "Freebase-answerable questions from web search.", "open_domain_qa"),
        (
            "agieval",
            "AGIEval",
            "Questions from human admission and qualification exams (EN and ZH).",
            "exams",
        ),
        ("agieval_en", "AGIEval (English)", "The English subset of AGIEval.", "exams"),
    ],
    "math": [
        ("gsm8k", "GSM8K", "Grade-school math word problems, exact-match final answer.", "word_problems"),
        (
            "gsm8k_cot",
            "GSM8K CoT",
            "GSM8K with chain-of-thought exemplars.",
            "word_problems chain_of_thought",
        ),
        (
            "gsm8k_cot_zeroshot",
            "GSM8K CoT 0-shot",
            "GSM8K with zero-shot chain of thought.",
            "word_problems chain_of_thought",
        ),
        (
            "gsm8k_cot_self_consistency",
            "GSM8K CoT Self-Consistency",
            "GSM8K chain of thought with majority vote over samples.",
            "word_problems chain_of_thought",
        ),
        (
            "gsm8k_cot_llama",
            "GSM8K CoT (Llama)",
            "GSM8K chain of thought in the Llama 3 chat format.",
            "word_problems chain_of_thought",
        ),
        ("gsm8k_platinum", "GSM8K Platinum", "GSM8K with label noise removed.", "word_problems"),
        (
            "gsm8k_platinum_cot",
            "GSM8K Platinum CoT",
            "GSM8K Platinum with chain of thought.",
            "word_problems chain_of_thought",
        ),
        (
            "gsm_plus",
            "GSM-Plus",
            "GSM8K perturbed to test robustness of math reasoning.",
            "word_problems robustness",
        ),
        ("tinyGSM8k", "tinyGSM8K", "100-problem subset of GSM8K.", "word_problems tiny"),
        (
            "hendrycks_math",
            "MATH",
            "Competition mathematics problems (Hendrycks et al.) in seven subjects.",
            "competition",
        ),
        ("hendrycks_math500", "MATH-500", "The 500-problem MATH test subset.", "competition"),
        ("hendrycks_math_algebra", "MATH Algebra", "MATH algebra problems.", "competition"),
        (
            "hendrycks_math_counting_and_prob",
            "MATH Counting & Probability",
            "MATH counting and probability.",
            "competition",
        ),
        ("hendrycks_math_geometry", "MATH Geometry", "MATH geometry problems.", "competition"),
        (
            "hendrycks_math_intermediate_algebra",
            "MATH Intermediate Algebra",
            "MATH intermediate algebra.",
            "competition",
        ),
        ("hendrycks_math_num_theory", "MATH Number Theory", "MATH number theory problems.", "competition"),
        ("hendrycks_math_prealgebra", "MATH Prealgebra", "MATH prealgebra problems.", "competition"),
        ("hendrycks_math_precalc", "MATH Precalculus", "MATH precalculus problems.", "competition"),
        (
            "minerva_math",
            "Minerva MATH",
            "MATH with the Minerva prompt and answer normalisation.",
            "competition",
        ),
        ("minerva_math500", "Minerva MATH-500", "MATH-500 with the Minerva prompt.", "competition"),
        (
            "leaderboard_math_hard",
            "MATH Hard (Leaderboard v2)",
            "Level-5 MATH problems as in the Open LLM Leaderboard v2.",
            "competition open_llm_leaderboard_v2",
        ),
        ("aime", "AIME", "American Invitational Mathematics Examination problems.", "competition"),
        ("aime24", "AIME 2024", "AIME 2024 problems.", "competition"),
        ("aime25", "AIME 2025", "AIME 2025 problems.", "competition"),
        ("mathqa", "MathQA", "Multiple-choice math word problems with operation programs.", "word_problems"),
        ("asdiv", "ASDiv", "Diverse elementary math word problems.", "word_problems"),
        ("mmlu_pro_math", "MMLU-Pro Math", "MMLU-Pro mathematics questions.", "mmlu_pro"),
        ("mmlu_abstract_algebra", "MMLU Abstract Algebra", "MMLU abstract algebra questions.", "mmlu"),
        ("mmlu_college_mathematics", "MMLU College Mathematics", "MMLU college mathematics.", "mmlu"),
        ("mmlu_high_school_mathematics", "MMLU HS Mathematics", "MMLU high-school mathematics.", "mmlu"),
        (
            "mmlu_elementary_mathematics",
            "MMLU Elementary Mathematics",
            "MMLU elementary mathematics.",
            "mmlu",
        ),
        ("arithmetic_2da", "Arithmetic 2-digit Addition", "Add two 2-digit numbers.", "arithmetic"),
        ("arithmetic_2ds", "Arithmetic 2-digit Subtraction", "Subtract two 2-digit numbers.", "arithmetic"),
        (
            "arithmetic_2dm",
            "Arithmetic 2-digit Multiplication",
            "Multiply two 2-digit numbers.",
            "arithmetic",
        ),
        ("arithmetic_3da", "Arithmetic 3-digit Addition", "Add two 3-digit numbers.", "arithmetic"),
        ("arithmetic_4da", "Arithmetic 4-digit Addition", "Add two 4-digit numbers.", "arithmetic"),
        ("arithmetic_5da", "Arithmetic 5-digit Addition", "Add two 5-digit numbers.", "arithmetic"),
        (
            "arithmetic_1dc",
            "Arithmetic 1-digit Composite",
            "Evaluate composite 1-digit expressions.",
            "arithmetic",
        ),
    ],
    "reasoning": [
        ("arc_easy", "ARC Easy", "Grade-school science questions, easy set.", "commonsense ai2_arc"),
        (
            "arc_challenge",
            "ARC Challenge",
            "Grade-school science questions that retrieval cannot solve.",
            "commonsense ai2_arc",
        ),
        (
            "arc_challenge_chat",
            "ARC Challenge (chat)",
            "ARC Challenge answered by generation in a chat format.",
            "ai2_arc",
        ),
        (
            "hellaswag",
            "HellaSwag",
            "Pick the most plausible continuation of an everyday scene.",
            "commonsense",
        ),
        ("winogrande", "WinoGrande", "Large-scale Winograd schema pronoun resolution.", "commonsense"),
        ("piqa", "PIQA", "Physical commonsense: choose the better way to reach a goal.", "commonsense"),
        ("social_iqa", "Social IQa", "Commonsense about people's motivations and reactions.", "commonsense"),
        (
            "commonsense_qa",
            "CommonsenseQA",
            "Multiple-choice questions that need commonsense knowledge.",
            "commonsense",
        ),
        ("copa", "COPA", "SuperGLUE: choose the cause or effect of a premise.", "commonsense superglue"),
        ("swag", "SWAG", "Situations with adversarial generations: pick the next event.", "commonsense"),
        ("wsc273", "WSC273", "The original 273 Winograd schema problems.", "commonsense"),
        ("wsc", "WSC (SuperGLUE)", "SuperGLUE Winograd schema coreference.", "commonsense superglue"),
        ("anli_r1", "ANLI Round 1", "Adversarial NLI, round 1.", "nli adversarial"),
        ("anli_r2", "ANLI Round 2", "Adversarial NLI, round 2.", "nli adversarial"),
        ("anli_r3", "ANLI Round 3", "Adversarial NLI, round 3.", "nli adversarial"),
        (
            "bbh",
            "BIG-Bench Hard",
            "23 hard BIG-Bench tasks with chain-of-thought few-shot prompts.",
            "bbh chain_of_thought",
        ),
        ("bbh_zeroshot", "BBH 0-shot", "BIG-Bench Hard without exemplars.", "bbh"),
        ("bbh_fewshot", "BBH few-shot", "BIG-Bench Hard with answer-only exemplars.", "bbh"),
        (
            "bbh_cot_zeroshot",
            "BBH CoT 0-shot",
            "BIG-Bench Hard with zero-shot chain of thought.",
            "bbh chain_of_thought",
        ),
        (
            "leaderboard_bbh",
            "BBH (Leaderboard v2)",
            "BIG-Bench Hard as in the Open LLM Leaderboard v2.",
            "bbh open_llm_leaderboard_v2",
        ),
        (
            "leaderboard_musr",
            "MuSR (Leaderboard v2)",
            "Multistep soft reasoning over long narratives.",
            "open_llm_leaderboard_v2",
        ),
        ("mutual", "MuTual", "Pick the next utterance in a dialogue by reasoning.", "dialogue"),
        ("prost", "PROST", "Physical reasoning about objects through space and time.", "physical"),
        ("mc_taco", "MC-TACO", "Temporal commonsense about event duration and order.", "temporal"),
        ("babi", "bAbI", "Synthetic question answering over short stories.", "synthetic"),
        ("tinyArc", "tinyARC", "100-question subset of ARC Challenge.", "tiny ai2_arc"),
        ("tinyHellaswag", "tinyHellaswag", "100-example subset of HellaSwag.", "tiny commonsense"),
        ("tinyWinogrande", "tinyWinoGrande", "100-example subset of WinoGrande.", "tiny commonsense"),
    ],
    "logic_reasoning": [
        ("logiqa", "LogiQA", "Logical reasoning questions from Chinese civil-service exams.", "exams"),
        ("logiqa2", "LogiQA 2.0", "Revised and extended LogiQA.", "exams"),
        ("logieval", "LogiEval", "Logical reasoning in the LogiQA 2.0 instruction format.", "exams"),
        ("fld_default", "FLD", "Formal logic deduction: prove, disprove or unknown.", "deduction"),
        ("fld_star", "FLD*", "Harder FLD with deeper proofs.", "deduction"),
        (
            "mastermind_24_easy",
            "Mastermind 2x4 Easy",
            "Deduce a Mastermind code from feedback, small board.",
            "deduction game",
        ),
        (
            "mastermind_46_hard",
            "Mastermind 4x6 Hard",
            "Deduce a Mastermind code from feedback, large board.",
            "deduction game",
        ),
        ("agieval_lsat_ar", "AGIEval LSAT-AR", "LSAT analytical reasoning questions.", "exams"),
        ("agieval_lsat_lr", "AGIEval LSAT-LR", "LSAT logical reasoning questions.", "exams"),
        ("agieval_logiqa_en", "AGIEval LogiQA (EN)", "LogiQA questions in English from AGIEval.", "exams"),
        ("mmlu_formal_logic", "MMLU Formal Logic", "MMLU formal logic questions.", "mmlu"),
        ("mmlu_logical_fallacies", "MMLU Logical Fallacies", "MMLU logical fallacies questions.", "mmlu"),
        (
            "leaderboard_bbh_formal_fallacies",
            "BBH Formal Fallacies",
            "Decide whether an argument is deductively valid.",
            "bbh open_llm_leaderboard_v2",
        ),
        (
            "leaderboard_bbh_logical_deduction_five_objects",
            "BBH Logical Deduction (5 objects)",
            "Order five objects from logical clues.",
            "bbh open_llm_leaderboard_v2",
        ),
        ("lingoly", "LingOly", "Linguistics olympiad puzzles on low-resource languages.", "puzzles"),
    ],
    "science": [
        ("sciq", "SciQ", "Crowdsourced science exam questions with supporting text.", "exams"),
        (
            "openbookqa",
            "OpenBookQA",
            "Elementary science questions needing an open book of facts.",
            "commonsense",
        ),
        ("gpqa_main_zeroshot", "GPQA Main 0-shot", "Graduate-level Google-proof science questions.", "gpqa"),
        (
            "gpqa_diamond_zeroshot",
            "GPQA Diamond 0-shot",
            "The hardest, expert-validated GPQA subset.",
            "gpqa",
        ),
        ("gpqa_extended_zeroshot", "GPQA Extended 0-shot", "The extended GPQA question set.", "gpqa"),
        ("gpqa_main_n_shot", "GPQA Main n-shot", "GPQA main set with few-shot exemplars.", "gpqa"),
        ("gpqa_diamond_n_shot", "GPQA Diamond n-shot", "GPQA Diamond with few-shot exemplars.", "gpqa"),
        (
            "gpqa_diamond_cot_zeroshot",
            "GPQA Diamond CoT 0-shot",
            "GPQA Diamond with zero-shot chain of thought.",
            "gpqa chain_of_thought",
        ),
        (
            "leaderboard_gpqa",
            "GPQA (Leaderboard v2)",
            "GPQA as in the Open LLM Leaderboard v2.",
            "gpqa open_llm_leaderboard_v2",
        ),
        ("mmlu_stem", "MMLU STEM", "The STEM subjects of MMLU.", "mmlu"),
        ("mmlu_college_physics", "MMLU College Physics", "MMLU college physics.", "mmlu"),
        ("mmlu_high_school_physics", "MMLU HS Physics", "MMLU high-school physics.", "mmlu"),
        ("mmlu_college_chemistry", "MMLU College Chemistry", "MMLU college chemistry.", "mmlu"),
        ("mmlu_college_biology", "MMLU College Biology", "MMLU college biology.", "mmlu"),
        ("mmlu_astronomy", "MMLU Astronomy", "MMLU astronomy.", "mmlu"),
        (
            "mmlu_college_computer_science",
            "MMLU College Computer Science",
            "MMLU college computer science.",
            "mmlu",
        ),
        ("mmlu_machine_learning", "MMLU Machine Learning", "MMLU machine learning.", "mmlu"),
        ("mmlu_pro_physics", "MMLU-Pro Physics", "MMLU-Pro physics questions.", "mmlu_pro"),
        ("mmlu_pro_chemistry", "MMLU-Pro Chemistry", "MMLU-Pro chemistry questions.", "mmlu_pro"),
        ("mmlu_pro_biology", "MMLU-Pro Biology", "MMLU-Pro biology questions.", "mmlu_pro"),
        ("mmlu_pro_engineering", "MMLU-Pro Engineering", "MMLU-Pro engineering questions.", "mmlu_pro"),
        (
            "mmlu_pro_computer_science",
            "MMLU-Pro Computer Science",
            "MMLU-Pro computer science questions.",
            "mmlu_pro",
        ),
        (
            "physics_gre_multiple_choice",
            "Physics GRE",
            "Multiple-choice questions from Physics GRE exams.",
            "exams",
        ),
    ],
    "medical": [
        ("pubmedqa", "PubMedQA", "Yes/no/maybe questions answered from PubMed abstracts.", "biomedical"),
        ("medmcqa", "MedMCQA", "Indian medical entrance exam questions.", "exams"),
        ("medqa_4options", "MedQA (4 options)", "US medical licensing exam questions.", "exams"),
        ("multimedqa", "MultiMedQA", "PubMedQA, MedMCQA, MedQA and the medical MMLU subjects.", "suite"),
        ("headqa_en", "HEAD-QA (English)", "Spanish healthcare specialisation exams, in English.", "exams"),
        ("mmlu_anatomy", "MMLU Anatomy", "MMLU anatomy.", "mmlu"),
        ("mmlu_clinical_knowledge", "MMLU Clinical Knowledge", "MMLU clinical knowledge.", "mmlu"),
        ("mmlu_college_medicine", "MMLU College Medicine", "MMLU college medicine.", "mmlu"),
        ("mmlu_medical_genetics", "MMLU Medical Genetics", "MMLU medical genetics.", "mmlu"),
        ("mmlu_professional_medicine", "MMLU Professional Medicine", "MMLU professional medicine.", "mmlu"),
        ("mmlu_nutrition", "MMLU Nutrition", "MMLU nutrition.", "mmlu"),
        ("mmlu_virology", "MMLU Virology", "MMLU virology.", "mmlu"),
        ("mmlu_pro_health", "MMLU-Pro Health", "MMLU-Pro health questions.", "mmlu_pro"),
        (
            "careqa_en",
            "CareQA (English)",
            "Spanish specialised-healthcare exam questions, in English.",
            "exams",
        ),
        ("med_concepts_qa", "MedConceptsQA", "Questions about medical codes (ICD, ATC).", "biomedical"),
        ("meqsum", "MeQSum", "Summarise consumer health questions.", "summarization"),
        ("mediqa_qa2019", "MEDIQA QA 2019", "Answer consumer health questions.", "biomedical"),
    ],
    "language_modeling": [
        ("wikitext", "WikiText-2", "Perplexity on Wikipedia articles.", "perplexity"),
        (
            "lambada_openai",
            "LAMBADA (OpenAI)",
            "Predict the last word of a passage (OpenAI preprocessing).",
            "lambada",
        ),
        (
            "lambada_standard",
            "LAMBADA (standard)",
            "Predict the last word of a passage (original text).",
            "lambada",
        ),
        ("lambada_openai_cloze_yaml", "LAMBADA Cloze", "LAMBADA in a cloze prompt format.", "lambada"),
        ("pile_10k", "Pile 10k", "Perplexity on 10k documents from the Pile.", "perplexity"),
        ("pile_arxiv", "Pile ArXiv", "Perplexity on the Pile's arXiv subset.", "perplexity pile"),
        ("c4", "C4", "Perplexity on the C4 web corpus.", "perplexity"),
        ("paloma_c4_en", "Paloma C4 (EN)", "Paloma perplexity on English C4.", "perplexity paloma"),
        (
            "paloma_wikitext_103",
            "Paloma WikiText-103",
            "Paloma perplexity on WikiText-103.",
            "perplexity paloma",
        ),
        ("blimp", "BLiMP", "Grammatical versus ungrammatical minimal pairs in English.", "linguistics"),
        ("lm_syneval", "LM SynEval", "Targeted syntactic evaluation with minimal pairs.", "linguistics"),
    ],
    "safety": [
        (
            "truthfulqa_mc1",
            "TruthfulQA MC1",
            "Avoid imitating human falsehoods, single correct answer.",
            "truthfulness",
        ),
        (
            "truthfulqa_mc2",
            "TruthfulQA MC2",
            "Avoid imitating human falsehoods, multiple true answers.",
            "truthfulness",
        ),
        ("truthfulqa_gen", "TruthfulQA (generation)", "Truthfulness of free-form answers.", "truthfulness"),
        ("tinyTruthfulQA", "tinyTruthfulQA", "100-question subset of TruthfulQA MC2.", "truthfulness tiny"),
        ("toxigen", "ToxiGen", "Classify implicitly toxic statements about minority groups.", "toxicity"),
        (
            "realtoxicityprompts",
            "RealToxicityPrompts",
            "Toxicity of continuations (needs the Perspective API).",
            "toxicity",
        ),
        (
            "crows_pairs_english",
            "CrowS-Pairs (English)",
            "Preference for stereotyped over anti-stereotyped sentences.",
            "bias",
        ),
        (
            "crows_pairs_french",
            "CrowS-Pairs (French)",
            "CrowS-Pairs stereotype preference in French.",
            "bias",
        ),
        ("bbq", "BBQ", "Bias benchmark for question answering in ambiguous contexts.", "bias"),
        ("winogender_all", "WinoGender", "Gender bias in pronoun resolution.", "bias"),
        (
            "simple_cooccurrence_bias",
            "Simple Co-occurrence Bias",
            "Gender associations of occupations.",
            "bias",
        ),
        (
            "discrim_eval_explicit",
            "DiscrimEval (explicit)",
            "Discrimination in decisions with explicit demographics.",
            "bias",
        ),
        (
            "discrim_eval_implicit",
            "DiscrimEval (implicit)",
            "Discrimination in decisions with implied demographics.",
            "bias",
        ),
        ("ethics_cm", "ETHICS Commonsense", "Commonsense moral judgements.", "ethics"),
        ("ethics_deontology", "ETHICS Deontology", "Reasonableness of excuses and duties.", "ethics"),
        ("ethics_justice", "ETHICS Justice", "Impartiality and desert.", "ethics"),
        ("ethics_utilitarianism", "ETHICS Utilitarianism", "Which scenario is more pleasant.", "ethics"),
        ("ethics_virtue", "ETHICS Virtue", "Match behaviours with character traits.", "ethics"),
        ("moral_stories", "Moral Stories", "Choose the moral action in a situated story.", "ethics"),
        (
            "wmdp",
            "WMDP",
            "Hazardous knowledge proxy in biosecurity, chemistry and cybersecurity.",
            "hazardous_knowledge",
        ),
        ("wmdp_bio", "WMDP Biology", "WMDP biosecurity questions.", "hazardous_knowledge"),
        ("wmdp_chem", "WMDP Chemistry", "WMDP chemical security questions.", "hazardous_knowledge"),
        ("wmdp_cyber", "WMDP Cyber", "WMDP cybersecurity questions.", "hazardous_knowledge"),
    ],
    "reading_comprehension": [
        ("race", "RACE", "English exam reading comprehension for Chinese students.", "exams"),
        ("boolq", "BoolQ", "SuperGLUE: yes/no questions about a Wikipedia passage.", "superglue"),
        ("multirc", "MultiRC", "SuperGLUE: multi-sentence reading comprehension.", "superglue"),
        ("record", "ReCoRD", "SuperGLUE: cloze-style news reading with commonsense.", "superglue"),
        ("coqa", "CoQA", "Conversational question answering over a passage.", "conversational"),
        ("drop", "DROP", "Discrete reasoning (counting, arithmetic) over paragraphs.", "numerical"),
        ("qasper_bool", "Qasper (yes/no)", "Yes/no questions about NLP papers.", "scientific_papers"),
        (
            "qasper_freeform",
            "Qasper (free-form)",
            "Free-form questions about NLP papers.",
            "scientific_papers",
        ),
        ("qa4mre_2011", "QA4MRE 2011", "Machine reading evaluation, 2011 edition.", "qa4mre"),
        ("qa4mre_2012", "QA4MRE 2012", "Machine reading evaluation, 2012 edition.", "qa4mre"),
        ("qa4mre_2013", "QA4MRE 2013", "Machine reading evaluation, 2013 edition.", "qa4mre"),
    ],
    "multilingual": [
        ("xnli", "XNLI", "Natural language inference in 15 languages.", "nli"),
        ("xcopa", "XCOPA", "Causal commonsense reasoning in 11 languages.", "commonsense"),
        ("xstorycloze", "XStoryCloze", "Story ending prediction in 11 languages.", "commonsense"),
        ("xwinograd", "XWinograd", "Winograd schemas in six languages.", "commonsense"),
        ("pawsx", "PAWS-X", "Paraphrase identification in seven languages.", "paraphrase"),
        ("belebele", "Belebele", "Reading comprehension in 122 language variants.", "reading_comprehension"),
        ("mmmlu", "MMMLU", "OpenAI's professionally translated MMLU in 14 languages.", "mmlu"),
        ("global_mmlu_en", "Global-MMLU (English)", "Culturally annotated Global-MMLU, English.", "mmlu"),
        ("global_mmlu_de", "Global-MMLU (German)", "Culturally annotated Global-MMLU, German.", "mmlu"),
        ("global_mmlu_fr", "Global-MMLU (French)", "Culturally annotated Global-MMLU, French.", "mmlu"),
        (
            "mgsm_direct_en",
            "MGSM Direct (English)",
            "Multilingual grade-school math, English, direct answer.",
            "math",
        ),
        (
            "mgsm_direct_de",
            "MGSM Direct (German)",
            "Multilingual grade-school math, German, direct answer.",
            "math",
        ),
        (
            "mgsm_direct_zh",
            "MGSM Direct (Chinese)",
            "Multilingual grade-school math, Chinese, direct answer.",
            "math",
        ),
        (
            "mgsm_native_cot_ja",
            "MGSM Native CoT (Japanese)",
            "MGSM in Japanese with native chain of thought.",
            "math chain_of_thought",
        ),
        ("cmmlu", "CMMLU", "Chinese multitask knowledge and reasoning.", "chinese"),
        (
            "ceval-valid",
            "C-Eval (validation)",
            "Chinese exam questions across 52 disciplines.",
            "chinese exams",
        ),
        ("kmmlu", "KMMLU", "Korean expert-level multitask questions.", "korean"),
        ("kobest", "KoBEST", "Korean balanced evaluation of significant tasks.", "korean"),
        ("haerae", "HAE-RAE Bench", "Korean cultural and linguistic knowledge.", "korean"),
        ("arabicmmlu", "ArabicMMLU", "Arabic school and university exam questions.", "arabic"),
        (
            "japanese_leaderboard",
            "Japanese Leaderboard",
            "Japanese QA, NLI, math and summarisation tasks.",
            "japanese suite",
        ),
        ("tmmluplus", "TMMLU+", "Traditional Chinese multitask questions.", "chinese"),
        ("arc_de", "ARC Challenge (German)", "Machine-translated ARC Challenge (Okapi), German.", "okapi"),
        ("hellaswag_de", "HellaSwag (German)", "Machine-translated HellaSwag (Okapi), German.", "okapi"),
        ("m_mmlu_de", "MMLU (German)", "Machine-translated MMLU (Okapi), German.", "okapi"),
        ("lambada_openai_mt_de", "LAMBADA (German)", "Machine-translated LAMBADA, German.", "lambada"),
        (
            "spanish_bench",
            "SpanishBench",
            "Spanish reasoning, QA, paraphrase and translation tasks.",
            "spanish suite",
        ),
        ("catalan_bench", "CatalanBench", "Catalan reasoning, QA and translation tasks.", "catalan suite"),
        ("basque_bench", "BasqueBench", "Basque reasoning, QA and translation tasks.", "basque suite"),
        (
            "galician_bench",
            "GalicianBench",
            "Galician reasoning, QA and translation tasks.",
            "galician suite",
        ),
        (
            "portuguese_bench",
            "PortugueseBench",
            "Portuguese reasoning, QA and translation tasks.",
            "portuguese suite",
        ),
        ("wmt16-de-en", "WMT16 German-English", "Translate German news into English.", "translation"),
        ("wmt16-en-de", "WMT16 English-German", "Translate English news into German.", "translation"),
        ("wmt14-en-fr", "WMT14 English-French", "Translate English news into French.", "translation"),
        ("wmt14-fr-en", "WMT14 French-English", "Translate French news into English.", "translation"),
    ],
    "code": [
        (
            "humaneval",
            "HumanEval",
            "Write Python functions from docstrings, scored by unit tests.",
            "python unsafe_code",
        ),
        ("humaneval_plus", "HumanEval+", "HumanEval with many more tests per problem.", "python unsafe_code"),
        (
            "humaneval_instruct",
            "HumanEval (instruct)",
            "HumanEval with an instruction prompt for chat models.",
            "python unsafe_code",
        ),
        ("humaneval_64", "HumanEval pass@64", "HumanEval with 64 samples per problem.", "python unsafe_code"),
        ("mbpp", "MBPP", "Mostly basic Python problems, scored by unit tests.", "python unsafe_code"),
        ("mbpp_plus", "MBPP+", "MBPP with extended tests.", "python unsafe_code"),
        (
            "mbpp_instruct",
            "MBPP (instruct)",
            "MBPP with an instruction prompt for chat models.",
            "python unsafe_code",
        ),
        ("mbpp_plus_instruct", "MBPP+ (instruct)", "MBPP+ with an instruction prompt.", "python unsafe_code"),
        (
            "humaneval_infilling",
            "HumanEval Infilling",
            "Fill in missing lines or spans of HumanEval solutions.",
            "python unsafe_code",
        ),
        ("cruxeval_input", "CRUXEval-I", "Predict a Python function's input from its output.", "python"),
        ("cruxeval_output", "CRUXEval-O", "Predict a Python function's output from its input.", "python"),
        (
            "cruxeval_input_cot",
            "CRUXEval-I CoT",
            "CRUXEval-I with chain of thought.",
            "python chain_of_thought",
        ),
        (
            "cruxeval_output_cot",
            "CRUXEval-O CoT",
            "CRUXEval-O with chain of thought.",
            "python chain_of_thought",
        ),
        (
            "code2text",
            "CodeXGLUE Code-to-Text",
            "Summarise functions in six programming languages.",
            "summarization",
        ),
        (
            "code2text_python",
            "CodeXGLUE Code-to-Text (Python)",
            "Summarise Python functions.",
            "python summarization",
        ),
        (
            "jsonschema_bench_easy",
            "JSONSchemaBench Easy",
            "Generate JSON that satisfies a schema, easy set.",
            "structured_output",
        ),
        (
            "jsonschema_bench_medium",
            "JSONSchemaBench Medium",
            "Generate JSON that satisfies a schema, medium set.",
            "structured_output",
        ),
        (
            "jsonschema_bench_hard",
            "JSONSchemaBench Hard",
            "Generate JSON that satisfies a schema, hard set.",
            "structured_output",
        ),
    ],
}


@dataclass(frozen=True)
class Facts:
    """What lm-eval's configuration says about one task or group."""

    output_type: str | None
    metrics: list[str]
    num_few_shot: int
    is_group: bool


def _metric_name(metric: Any) -> str:
    # With functions unresolved, `metric: !function utils.pass_at_k` reads as "<dir>/utils.pass_at_k";
    # lm-eval reports such a metric under the function's name.
    name = str(metric)
    return name.rsplit(".", 1)[-1] if "/" in name else name


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


class Extractor:
    """Reads task facts from a TaskManager's index, mirroring how lm-eval's TaskFactory merges configs."""

    def __init__(self, manager: Any) -> None:
        from lm_eval.api.registry import DEFAULT_METRIC_REGISTRY
        from lm_eval.config.group import GroupConfig
        from lm_eval.config.task import TaskConfig

        self._index: dict[str, Any] = manager.task_index
        self._default_metrics: dict[str, list[str]] = DEFAULT_METRIC_REGISTRY
        self._default_output_type: str = TaskConfig.output_type
        self._group_fields = set(GroupConfig.__dataclass_fields__)

    def facts(self, name: str) -> Facts:
        entry = self._index.get(name)
        if entry is None:
            raise KeyError(f"{name!r} is not an lm-eval task or group")
        kind = entry.kind.name
        if kind == "TASK":
            return self._task_facts(dict(entry.cfg))
        if kind == "GROUP":
            return self._group_facts(dict(entry.cfg), {})
        raise ValueError(f"{name!r} is a {kind} in lm-eval; the catalog lists YAML tasks and groups only")

    def _task_facts(self, cfg: dict[str, Any]) -> Facts:
        if "class" in cfg:
            raise ValueError(f"{cfg.get('task')!r} is a Python-class task; its config is not in YAML")
        output_type = cfg.get("output_type") or self._default_output_type
        metric_list = cfg.get("metric_list")
        if metric_list is None:
            metrics = list(self._default_metrics[output_type])
        else:
            metrics = _unique([_metric_name(m["metric"]) for m in metric_list])
        return Facts(output_type, metrics, int(cfg.get("num_fewshot") or 0), is_group=False)

    def _group_facts(self, cfg: dict[str, Any], overrides: dict[str, Any]) -> Facts:
        leaves = self._expand_group(cfg, overrides)
        output_types = {leaf.output_type for leaf in leaves}
        few_shots = {leaf.num_few_shot for leaf in leaves}
        aggregate = cfg.get("aggregate_metric_list")
        if aggregate:
            aggregate = aggregate if isinstance(aggregate, list) else [aggregate]
            metrics = _unique([_metric_name(a["metric"]) for a in aggregate])
        else:
            metrics = _unique([m for leaf in leaves for m in leaf.metrics])
        return Facts(
            output_type=output_types.pop() if len(output_types) == 1 else None,
            metrics=metrics,
            # A group whose members differ has no single default; 0 says "per-task defaults apply".
            num_few_shot=few_shots.pop() if len(few_shots) == 1 else 0,
            is_group=True,
        )

    def _leaves(self, members: list[Any], overrides: dict[str, Any]) -> list[Facts]:
        leaves: list[Facts] = []
        for item in members:
            if isinstance(item, str):
                name, item_overrides = item, overrides
            elif "group" in item:
                inline = {k: v for k, v in item.items() if k != "group"}
                ref = self._index.get(item["group"])
                if ref is not None:
                    leaves += self._expand(ref, overrides | inline)
                else:
                    leaves += self._expand_group(item, overrides)
                continue
            else:
                name, item_overrides = item["task"], overrides | item
            entry = self._index.get(name)
            if entry is None:
                # An inline task defined entirely inside the group.
                leaves.append(self._task_facts(item_overrides))
                continue
            if not isinstance(item, str) and entry.kind.name in ("GROUP", "TAG"):
                # lm-eval 0.4.13 passes the item's `task` key on to every member, so all of them end up
                # under one name and the group runs something other than it says (e.g. `openllm`).
                raise ValueError(
                    f"a group member {item!r} overrides a {entry.kind.name}; lm-eval mis-builds it"
                )
            leaves += self._expand(entry, item_overrides)
        return leaves

    def _expand(self, entry: Any, overrides: dict[str, Any]) -> list[Facts]:
        kind = entry.kind.name
        if kind == "GROUP":
            return self._expand_group(dict(entry.cfg), overrides)
        if kind == "TAG":
            return [self._task_facts(dict(self._index[t].cfg) | overrides) for t in sorted(entry.tags)]
        return [self._task_facts(dict(entry.cfg) | overrides)]

    def _expand_group(self, cfg: dict[str, Any], overrides: dict[str, Any]) -> list[Facts]:
        # Keys that are not group fields are defaults for every member (lm-eval's TaskFactory does the same).
        member_overrides = {k: v for k, v in cfg.items() if k not in self._group_fields} | overrides
        members = cfg.get("task") or []
        return self._leaves(members if isinstance(members, list) else [members], member_overrides)


def build(manager: Any) -> dict[str, Any]:
    """The provider document: PROVIDER plus one benchmark per curated row, sorted by benchmark_id."""
    extractor = Extractor(manager)
    benchmarks: list[dict[str, Any]] = []
    for category, rows in CURATED.items():
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        for benchmark_id, name, description, tags in rows:
            facts = extractor.facts(benchmark_id)
            benchmarks.append(
                {
                    "benchmark_id": benchmark_id,
                    "name": name,
                    "description": description,
                    "category": category,
                    "provider_id": PROVIDER["provider_id"],
                    "metrics": facts.metrics,
                    "num_few_shot": facts.num_few_shot,
                    "dataset_size": None,
                    "tags": sorted(set(tags.split())),
                    "output_type": facts.output_type,
                    "is_group": facts.is_group,
                }
            )
    ids = [b["benchmark_id"] for b in benchmarks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"benchmark ids listed twice: {duplicates}")
    return {**PROVIDER, "benchmarks": sorted(benchmarks, key=lambda b: b["benchmark_id"])}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the file is up to date")
    args = parser.parse_args()

    from lm_eval.tasks import TaskManager

    text = render(build(TaskManager()))
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({text.count('benchmark_id')} benchmarks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
