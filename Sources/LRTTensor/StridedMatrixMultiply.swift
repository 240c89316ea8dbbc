import CBLAS

extension MatrixMultiply {
    /// `c = alpha · op(a) · op(b) + beta · c` on sub-matrices of larger row-major
    /// matrices: each operand's rows are `leading…` elements apart.
    ///
    /// Used to give each core a band of rows of one product.
    /// - Parameters:
    ///   - a: `[rows, inner]`, or `[inner, rows]` when `transposeA`, rows `leadingA` apart.
    ///   - b: `[inner, columns]`, or `[columns, inner]` when `transposeB`, rows `leadingB` apart.
    ///   - c: `[rows, columns]`, rows `leadingC` apart.
    @inlinable
    public static func gemm(
        _ a: UnsafePointer<Float>, leadingA: Int, transposeA: Bool = false,
        _ b: UnsafePointer<Float>, leadingB: Int, transposeB: Bool = false,
        into c: UnsafeMutablePointer<Float>, leadingC: Int,
        rows: Int, columns: Int, inner: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            blasint(rows), blasint(columns), blasint(inner),
            alpha, a, blasint(leadingA), b, blasint(leadingB), beta, c, blasint(leadingC))
    }
}
