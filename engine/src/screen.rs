//! A cheap look at a component before it is compiled: one linear pass of
//! `wasmparser` over its core modules that refuses shapes known to make
//! Cranelift use seconds and gigabytes on a few KiB of input. It is a
//! first filter only: the compile itself runs in a child process with
//! time and memory limits (see the API's admission).

use super::ValidateError;
use wasmparser::{BlockType, Operator, Parser, Payload};

/// Most locals one function may declare.
pub const MAX_LOCALS: u64 = 50_000;
/// Most block-type parameters and results one function may use in all:
/// every `block`/`loop`/`if` of a function type with `n` values counts
/// `n` (ordinary code: a few hundred; a blow-up: millions).
pub const MAX_BLOCK_ARITY: u64 = 100_000;
/// Most values one function type may take plus return.
pub const MAX_TYPE_ARITY: usize = 1_000;
/// Most functions one core module may define. Each costs the compiler
/// about 70 µs and 6 KiB however small it is (measured: 300,000 empty
/// functions, 4.5 MB of Wasm, took 21 s and 1.7 GB to compile); big real
/// modules (CPython in componentize-py) define tens of thousands.
pub const MAX_FUNCTIONS: u32 = 100_000;

/// Refuses a component whose core modules exceed the bounds above.
pub(super) fn screen(bytes: &[u8]) -> Result<(), ValidateError> {
    // One type list per module being read (modules nest in components).
    let mut arities: Vec<Vec<u64>> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| ValidateError::Invalid(e.to_string()))?;
        match payload {
            Payload::Version {
                encoding: wasmparser::Encoding::Module,
                ..
            } => arities.push(Vec::new()),
            Payload::TypeSection(types) => {
                let list = arities.last_mut().ok_or_else(|| invalid("type section"))?;
                for ty in types.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| ValidateError::Invalid(e.to_string()))?;
                    let n = ty.params().len() + ty.results().len();
                    if n > MAX_TYPE_ARITY {
                        return Err(refused(&format!(
                            "a function type with {n} parameters and results (at most {MAX_TYPE_ARITY})"
                        )));
                    }
                    list.push(n as u64);
                }
            }
            Payload::CodeSectionStart { count, .. } if count > MAX_FUNCTIONS => {
                return Err(refused(&format!(
                    "a module of {count} functions (at most {MAX_FUNCTIONS})"
                )));
            }
            Payload::CodeSectionEntry(body) => {
                let list = arities.last().ok_or_else(|| invalid("code section"))?;
                function(&body, list)?;
            }
            // The list of the module being closed goes (at the end of a
            // component the stack may be empty: nothing to pop).
            Payload::End(_) => {
                arities.pop();
            }
            _ => {}
        }
    }
    Ok(())
}

fn function(body: &wasmparser::FunctionBody<'_>, arities: &[u64]) -> Result<(), ValidateError> {
    let err = |e: wasmparser::BinaryReaderError| ValidateError::Invalid(e.to_string());
    let mut locals = 0u64;
    for group in body.get_locals_reader().map_err(err)? {
        locals += u64::from(group.map_err(err)?.0);
        if locals > MAX_LOCALS {
            return Err(refused(&format!(
                "a function with more than {MAX_LOCALS} locals"
            )));
        }
    }
    let mut arity = 0u64;
    let mut ops = body.get_operators_reader().map_err(err)?;
    while !ops.eof() {
        let (Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty }) =
            ops.read().map_err(err)?
        else {
            continue;
        };
        if let BlockType::FuncType(i) = blockty {
            arity += arities.get(i as usize).copied().unwrap_or(0);
            if arity > MAX_BLOCK_ARITY {
                return Err(refused(&format!(
                    "a function whose blocks take and return more than {MAX_BLOCK_ARITY} values in all"
                )));
            }
        }
    }
    Ok(())
}

fn refused(what: &str) -> ValidateError {
    ValidateError::Unreasonable(format!(
        "{what}: a shape that makes the compiler blow up, not one compilers emit"
    ))
}

fn invalid(what: &str) -> ValidateError {
    ValidateError::Invalid(format!("a {what} outside a module"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        BlockType as B, CodeSection, Component, Function, FunctionSection, Instruction as I,
        Module, ModuleSection, TypeSection, ValType,
    };

    /// A component holding one module with one function whose body opens
    /// `blocks` nested blocks of a type taking `params` i32s.
    fn nested_blocks(params: usize, blocks: usize) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        types.ty().function(vec![ValType::I32; params], []);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        let mut f = Function::new([]);
        for _ in 0..blocks {
            for _ in 0..params {
                f.instruction(&I::I32Const(0));
            }
            f.instruction(&I::Block(B::FunctionType(1)));
        }
        for _ in 0..blocks {
            for _ in 0..params {
                f.instruction(&I::Drop);
            }
            f.instruction(&I::End);
        }
        f.instruction(&I::End);
        let mut code = CodeSection::new();
        code.function(&f);
        let mut module = Module::new();
        module.section(&types).section(&funcs).section(&code);
        let mut c = Component::new();
        c.section(&ModuleSection(&module));
        c.finish()
    }

    /// A component of one module with `n` empty functions.
    fn many_functions(n: u32) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let (mut funcs, mut code) = (FunctionSection::new(), CodeSection::new());
        for _ in 0..n {
            funcs.function(0);
            let mut f = Function::new([]);
            f.instruction(&I::End);
            code.function(&f);
        }
        let mut module = Module::new();
        module.section(&types).section(&funcs).section(&code);
        let mut c = Component::new();
        c.section(&ModuleSection(&module));
        c.finish()
    }

    #[test]
    fn function_swarms_are_refused() {
        assert!(screen(&many_functions(1000)).is_ok());
        let e = screen(&many_functions(MAX_FUNCTIONS + 1)).unwrap_err();
        assert_eq!(e.code(), "compile_bomb", "{e}");
    }

    #[test]
    fn ordinary_shapes_pass_and_block_bombs_are_refused() {
        assert!(screen(&nested_blocks(4, 100)).is_ok());
        let bomb = nested_blocks(500, 300);
        assert!(bomb.len() < 1 << 20, "a small input: {}", bomb.len());
        let Err(e) = screen(&bomb) else {
            panic!("150,000 block parameters pass")
        };
        assert_eq!(e.code(), "compile_bomb", "{e}");
    }
}
