//! The setkey `-f` / `-c` script dialect: lexer, parser and lowering to IR.
