import LRTHDF5

/// Why a plot cannot be made: a bad input file or option, named with a fix, in one line.
///
/// `description` is the whole message, for example
/// `run.csv line 7: 3 values but the header names 5 columns; is the file cut short?`.
public struct PlotError: Error, CustomStringConvertible, Equatable {
    /// The broad category, for callers and tests that react differently.
    public enum Kind: Sendable, Equatable {
        /// A log or checkpoint that cannot be parsed (the line is in the message).
        case malformedInput
        /// An input with nothing to plot (no epochs, no steps for the panels asked for).
        case nothingToPlot
        /// An option value that makes no sense (size, smoothing, panel name, label count).
        case invalidOption
        /// A file that cannot be read or written (see ``FileError``).
        case file
    }

    /// The broad category.
    public let kind: Kind
    /// The whole one-line message: what is wrong, where, and how to fix it.
    public let description: String

    /// An error of `kind` with the complete message `description`.
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// `path line N: problem` for a malformed input.
    static func malformed(_ path: String, line: Int, _ problem: String) -> PlotError {
        PlotError(.malformedInput, "\(path) line \(line): \(problem)")
    }

    /// A ``FileError`` carried as a plot error, message unchanged.
    init(_ error: FileError) {
        self.init(.file, error.description)
    }

    /// An error of a file operation (a ``FileError``, message unchanged, or any other).
    static func file(_ error: any Error) -> PlotError {
        (error as? FileError).map(PlotError.init) ?? PlotError(.file, "\(error)")
    }
}
