//! The protobuf codec every generated Latchkey client and server uses: prost's, except
//! that a message which does not decode is the sender's fault.
//!
//! tonic-prost answers undecodable bytes (a truncated varint, invalid UTF-8 in a
//! `string` field) with `INTERNAL`, the code gRPC reserves for the server's own
//! faults: operators get paged for a client's mistake. Here the decoder answers
//! `INVALID_ARGUMENT` instead. Message size limits are not the decoder's business:
//! tonic checks them on the frame before decoding, so an oversize message still
//! answers `OUT_OF_RANGE` (or `RESOURCE_EXHAUSTED` when it inflates past the limit).
//!
//! Clients generated here share the codec (the generator names one per file), so a
//! client that cannot decode an answer reports `INVALID_ARGUMENT` too; only a server
//! that is not Latchkey sends such an answer.

use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};

/// `application/grpc+proto` through prost, decode failures answered `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub struct ProtoCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        Self {
            prost: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProtoDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProtoDecoder {
            buffer_settings: self.prost.decoder().buffer_settings(),
            message: PhantomData,
        }
    }
}

/// Decodes one `U`; a decode failure is `INVALID_ARGUMENT`, naming the field prost
/// stopped at (the sender's own bytes, so nothing secret).
#[derive(Debug, Clone)]
pub struct ProtoDecoder<U> {
    buffer_settings: BufferSettings,
    message: PhantomData<U>,
}

impl<U: prost::Message + Default> Decoder for ProtoDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|error| {
            Status::invalid_argument(format!("the message is not valid protobuf: {error}"))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.buffer_settings
    }
}
